<?php

/*
 * rrtcp fallback for Spiral\Goridge\RPC\Exception\RPCException
 * (spiral/goridge): an RPC reply is malformed (option count, sequence).
 * Same name and parent class as in the real package (rrtcp-protocol(7) 5.2).
 */

declare(strict_types=1);

namespace Spiral\Goridge\RPC\Exception;

class RPCException extends \Spiral\Goridge\Exception\GoridgeException
{
}
