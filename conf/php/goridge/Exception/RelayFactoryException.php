<?php

/*
 * rrtcp fallback for Spiral\Goridge\Exception\RelayFactoryException
 * (spiral/goridge): Relay::create() got an address it cannot parse.
 * Same name and parent class as in the real package (rrtcp-protocol(7) 1.5).
 */

declare(strict_types=1);

namespace Spiral\Goridge\Exception;

class RelayFactoryException extends GoridgeException
{
}
