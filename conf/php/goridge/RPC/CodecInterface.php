<?php

/*
 * rrtcp fallback for Spiral\Goridge\RPC\CodecInterface (spiral/goridge):
 * turns RPC arguments into a frame body and replies back into values. The
 * index is the codec flag bit of the frame (rrtcp-protocol(7) 1.2).
 */

declare(strict_types=1);

namespace Spiral\Goridge\RPC;

interface CodecInterface
{
    public function getIndex(): int;

    public function encode(mixed $payload): string;

    public function decode(string $payload, mixed $options = null): mixed;
}
