<?php

/*
 * rrtcp fallback for Spiral\Goridge\Exception\InvalidArgumentException
 * (spiral/goridge): a relay or frame got a bad argument.
 * Same name and parent class as in the real package (rrtcp-protocol(7) 1.5).
 */

declare(strict_types=1);

namespace Spiral\Goridge\Exception;

class InvalidArgumentException extends GoridgeException
{
}
