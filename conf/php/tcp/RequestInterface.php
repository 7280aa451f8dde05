<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Tcp\RequestInterface
 * (spiral/roadrunner-tcp): one TCP event delivered to a worker
 * (rrtcp-protocol(7) 4.3).
 */

declare(strict_types=1);

namespace Spiral\RoadRunner\Tcp;

interface RequestInterface
{
    /** The client's "ip:port" ("[::1]:50000" for IPv6). */
    public function getRemoteAddress(): string;

    public function getEvent(): TcpEvent;

    /** DATA: one message, delimiter included; CONNECTED and CLOSE: "". */
    public function getBody(): string;

    /** Same for every event of one connection. */
    public function getConnectionUuid(): string;

    /** The server name from the config (tcp.servers.<name>). */
    public function getServer(): string;
}
