<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Tcp\TcpEvent (spiral/roadrunner-tcp):
 * the "event" of a request context (rrtcp-protocol(7) 4.3). Any other value,
 * or a missing key, maps to Unknown.
 */

declare(strict_types=1);

namespace Spiral\RoadRunner\Tcp;

enum TcpEvent: string
{
    case Connected = 'CONNECTED';
    case Data = 'DATA';
    case Close = 'CLOSE';
    case Unknown = 'UNKNOWN';
}
