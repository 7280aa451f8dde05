<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Worker (spiral/roadrunner-worker),
 * following rrtcp-protocol(7) sections 2 and 3:
 *
 * - waitPayload() answers pid requests ({"pid":N}, CONTROL) with
 *   {"pid":getmypid()} and flags 0x01, returns null on {"stop":true},
 *   skips stream STOP/PONG frames, and splits a data frame into header =
 *   payload[0:options[0]] and body = the rest. A data frame without an
 *   option word is a TypeError here, as in the real library.
 * - respond() sends flags 0, options [strlen(header)], header . body.
 * - error() sends an ERROR (0x40) frame; stop() sends {"stop":true} as the
 *   header of a data frame.
 * - create() routes echo/print output to stderr (ob_start, chunk size 1),
 *   so stdout carries frames only; frames bypass it through fwrite(STDOUT).
 */

declare(strict_types=1);

namespace Spiral\RoadRunner;

use Spiral\Goridge\Exception\GoridgeException;
use Spiral\Goridge\Exception\TransportException;
use Spiral\Goridge\Frame;
use Spiral\Goridge\Relay;
use Spiral\Goridge\RelayInterface;
use Spiral\RoadRunner\Exception\RoadRunnerException;

class Worker implements WorkerInterface
{
    private const JSON_ENCODE_FLAGS = JSON_THROW_ON_ERROR | JSON_PRESERVE_ZERO_FRACTION;

    public function __construct(
        private readonly RelayInterface $relay,
        bool $interceptSideEffects = true,
        private readonly Logger $logger = new Logger(),
    ) {
        if ($interceptSideEffects) {
            self::interceptOutput();
        }
    }

    /** Worker on the relay named by RR_RELAY ("pipes" = STDIN/STDOUT). */
    public static function create(bool $interceptSideEffects = true, Logger $logger = new Logger()): self
    {
        return static::createFromEnvironment(Environment::fromGlobals(), $interceptSideEffects, $logger);
    }

    public static function createFromEnvironment(
        EnvironmentInterface $env,
        bool $interceptSideEffects = true,
        Logger $logger = new Logger(),
    ): self {
        return new self(Relay::create($env->getRelayAddress()), $interceptSideEffects, $logger);
    }

    public function getLogger(): Logger
    {
        return $this->logger;
    }

    public function waitPayload(): ?Payload
    {
        while (true) {
            $frame = $this->relay->waitFrame();
            $payload = $frame->payload ?? '';

            if ($frame->hasFlag(Frame::CONTROL)) {
                $command = self::decodeControl($payload);
                if (!empty($command['stop'])) {
                    return null;
                }
                if (!empty($command['pid'])) {
                    $this->sendFrame(new Frame($this->encode(['pid' => getmypid()]), [], Frame::CONTROL));
                    continue;
                }
                throw new RoadRunnerException('Invalid task header, undefined control package');
            }

            if (($frame->byte10 & (Frame::BYTE10_STOP | Frame::BYTE10_PONG)) !== 0) {
                continue;
            }

            return new Payload(
                substr($payload, $frame->options[0]),
                substr($payload, 0, $frame->options[0]),
            );
        }
    }

    public function respond(Payload $payload, ?int $codec = null): void
    {
        $this->send($payload->body, $payload->header, $payload->eos, $codec);
    }

    public function error(string $error): void
    {
        $this->sendFrame(new Frame($error, [], Frame::ERROR));
    }

    public function stop(): void
    {
        $this->send('', $this->encode(['stop' => true]));
    }

    private function send(string $body, string $header, bool $eos = true, ?int $codec = null): void
    {
        $frame = new Frame($header . $body, [strlen($header)]);
        if (!$eos) {
            $frame->byte10 |= Frame::BYTE10_STREAM;
        }
        if ($codec !== null) {
            $frame->setFlag($codec);
        }

        $this->sendFrame($frame);
    }

    private function sendFrame(Frame $frame): void
    {
        try {
            $this->relay->send($frame);
        } catch (GoridgeException $e) {
            throw new TransportException($e->getMessage(), (int) $e->getCode(), $e);
        } catch (\Throwable $e) {
            throw new RoadRunnerException($e->getMessage(), (int) $e->getCode(), $e);
        }
    }

    private function encode(array $data): string
    {
        return json_encode($data, self::JSON_ENCODE_FLAGS);
    }

    private static function decodeControl(string $json): array
    {
        try {
            $command = json_decode($json, true, 512, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new RoadRunnerException('Invalid task header, JSON payload is expected: ' . $e->getMessage());
        }
        if (!is_array($command)) {
            throw new RoadRunnerException(
                'Invalid task header, JSON payload is expected: Json message must be an array or object',
            );
        }

        return $command;
    }

    /**
     * Sends everything the script prints to stderr: stdout belongs to frames
     * (rrtcp-protocol(7) 3.7). Chunk size 1 flushes each echo at once.
     */
    private static function interceptOutput(): void
    {
        ob_start(static function (string $chunk): string {
            if ($chunk !== '') {
                file_put_contents('php://stderr', $chunk);
            }
            return '';
        }, 1);
    }
}
