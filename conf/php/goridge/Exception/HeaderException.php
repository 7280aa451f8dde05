<?php

/*
 * rrtcp fallback for Spiral\Goridge\Exception\HeaderException
 * (spiral/goridge): the 12-byte frame header could not be read.
 * Same name and parent class as in the real package (rrtcp-protocol(7) 1.5).
 */

declare(strict_types=1);

namespace Spiral\Goridge\Exception;

class HeaderException extends TransportException
{
}
