<?php

/*
 * rrtcp fallback for Spiral\Goridge\Exception\GoridgeException
 * (spiral/goridge): base class of every goridge error.
 * Same name and parent class as in the real package (rrtcp-protocol(7) 1.5).
 */

declare(strict_types=1);

namespace Spiral\Goridge\Exception;

class GoridgeException extends \RuntimeException
{
}
