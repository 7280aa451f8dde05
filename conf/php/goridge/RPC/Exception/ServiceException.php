<?php

/*
 * rrtcp fallback for Spiral\Goridge\RPC\Exception\ServiceException
 * (spiral/goridge): the server answered an RPC call with the ERROR flag.
 * Same name and parent class as in the real package (rrtcp-protocol(7) 5.2).
 */

declare(strict_types=1);

namespace Spiral\Goridge\RPC\Exception;

class ServiceException extends RPCException
{
}
