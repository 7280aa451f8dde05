<?php

/*
 * rrtcp fallback for Spiral\Goridge\RelayInterface (spiral/goridge):
 * a blocking, duplex carrier of goridge frames (rrtcp-protocol(7) section 1).
 */

declare(strict_types=1);

namespace Spiral\Goridge;

interface RelayInterface
{
    /**
     * @throws Exception\RelayException
     */
    public function waitFrame(): Frame;

    public function send(Frame $frame): void;

    public function hasFrame(): bool;
}
