<?php

/*
 * rrtcp fallback for Spiral\Goridge\RPC\Exception\CodecException
 * (spiral/goridge): a codec could not encode or decode a body.
 * Same name and parent class as in the real package (rrtcp-protocol(7) 5.2).
 */

declare(strict_types=1);

namespace Spiral\Goridge\RPC\Exception;

class CodecException extends \RuntimeException
{
}
