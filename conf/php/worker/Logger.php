<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Logger (spiral/roadrunner-worker):
 * writes "[php <level>] <message> <context as JSON>" to stderr, which the
 * server logs (rrtcp-protocol(7) 3.7). Like the real class it adds no newline.
 * The real class implements Psr\Log\LoggerInterface; psr/log is not
 * available without composer, so this one only has the same methods.
 */

declare(strict_types=1);

namespace Spiral\RoadRunner;

class Logger
{
    public function log(mixed $level, string|\Stringable $message, array $context = []): void
    {
        $json = json_encode($context);
        if ($json === false) {
            $json = print_r($context, true);
        }
        file_put_contents('php://stderr', sprintf('[php %s] %s %s', $level, $message, $json));
    }

    public function emergency(string|\Stringable $message, array $context = []): void
    {
        $this->log('emergency', $message, $context);
    }

    public function alert(string|\Stringable $message, array $context = []): void
    {
        $this->log('alert', $message, $context);
    }

    public function critical(string|\Stringable $message, array $context = []): void
    {
        $this->log('critical', $message, $context);
    }

    public function error(string|\Stringable $message, array $context = []): void
    {
        $this->log('error', $message, $context);
    }

    public function warning(string|\Stringable $message, array $context = []): void
    {
        $this->log('warning', $message, $context);
    }

    public function notice(string|\Stringable $message, array $context = []): void
    {
        $this->log('notice', $message, $context);
    }

    public function info(string|\Stringable $message, array $context = []): void
    {
        $this->log('info', $message, $context);
    }

    public function debug(string|\Stringable $message, array $context = []): void
    {
        $this->log('debug', $message, $context);
    }
}
