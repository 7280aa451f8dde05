<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Payload (spiral/roadrunner-worker):
 * one request or response, split the way rrtcp-protocol(7) 2 describes: header
 * (the context, e.g. the TCP event JSON or "WRITE") and body. $eos = false
 * marks a stream frame (byte10 STREAM), which rrtcp's TCP server rejects.
 */

declare(strict_types=1);

namespace Spiral\RoadRunner;

class Payload
{
    public readonly string $body;

    public readonly string $header;

    public function __construct(?string $body, ?string $header = null, public readonly bool $eos = true)
    {
        $this->body = $body ?? '';
        $this->header = $header ?? '';
    }
}
