<?php

/*
 * rrtcp fallback for Spiral\Goridge\Exception\RelayException
 * (spiral/goridge): a relay cannot connect, read or write.
 * Same name and parent class as in the real package (rrtcp-protocol(7) 1.5).
 */

declare(strict_types=1);

namespace Spiral\Goridge\Exception;

class RelayException extends GoridgeException
{
}
