<?php

/*
 * rrtcp fallback for Spiral\Goridge\Exception\TransportException
 * (spiral/goridge): a frame could not be read or written.
 * Same name and parent class as in the real package (rrtcp-protocol(7) 1.5).
 */

declare(strict_types=1);

namespace Spiral\Goridge\Exception;

class TransportException extends RelayException
{
}
