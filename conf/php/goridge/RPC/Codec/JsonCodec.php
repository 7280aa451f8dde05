<?php

/*
 * rrtcp fallback for Spiral\Goridge\RPC\Codec\JsonCodec (spiral/goridge):
 * the default RPC codec, flag 0x08 CODEC_JSON (rrtcp-protocol(7) 5.1). An int
 * passed as $options to decode() is OR-ed into the json_decode() flags.
 */

declare(strict_types=1);

namespace Spiral\Goridge\RPC\Codec;

use Spiral\Goridge\Frame;
use Spiral\Goridge\RPC\CodecInterface;
use Spiral\Goridge\RPC\Exception\CodecException;

final class JsonCodec implements CodecInterface
{
    public function getIndex(): int
    {
        return Frame::CODEC_JSON;
    }

    public function encode(mixed $payload): string
    {
        try {
            return json_encode($payload, JSON_THROW_ON_ERROR);
        } catch (\JsonException $e) {
            throw new CodecException('Json encode: ' . $e->getMessage(), (int) $e->getCode(), $e);
        }
    }

    public function decode(string $payload, mixed $options = null): mixed
    {
        $flags = JSON_THROW_ON_ERROR | (is_int($options) ? $options : 0);

        try {
            return json_decode($payload, true, 512, $flags);
        } catch (\JsonException $e) {
            throw new CodecException('Json decode: ' . $e->getMessage(), (int) $e->getCode(), $e);
        }
    }
}
