<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Tcp\TcpResponse
 * (spiral/roadrunner-tcp): the response context a worker sends back
 * (rrtcp-protocol(7) 4.4).
 */

declare(strict_types=1);

namespace Spiral\RoadRunner\Tcp;

enum TcpResponse: string
{
    /** Close the connection. */
    case Close = 'CLOSE';
    /** Write the body, keep reading. */
    case Respond = 'WRITE';
    /** Write the body, then close. */
    case RespondClose = 'WRITECLOSE';
    /** Write nothing, keep reading. */
    case Read = 'CONTINUE';
}
