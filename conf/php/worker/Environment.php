<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Environment
 * (spiral/roadrunner-worker): reads RR_MODE, RR_RELAY and RR_RPC
 * (rrtcp-protocol(7) 3.1) from $_ENV and $_SERVER, $_SERVER winning.
 */

declare(strict_types=1);

namespace Spiral\RoadRunner;

class Environment implements EnvironmentInterface
{
    /** @param array<string, mixed> $env */
    public function __construct(private array $env = [])
    {
    }

    public static function fromGlobals(): self
    {
        return new self(array_merge($_ENV, $_SERVER));
    }

    public function getMode(): string
    {
        return $this->get('RR_MODE', '');
    }

    public function getRelayAddress(): string
    {
        return $this->get('RR_RELAY', 'pipes');
    }

    public function getRPCAddress(): string
    {
        return $this->get('RR_RPC', 'tcp://127.0.0.1:6001');
    }

    private function get(string $name, string $default): string
    {
        return array_key_exists($name, $this->env) ? (string) $this->env[$name] : $default;
    }
}
