<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Tcp\Request (spiral/roadrunner-tcp
 * 4.x): an immutable TCP event (rrtcp-protocol(7) 4.3). As in the real 4.x class
 * the properties are private: use the getters.
 */

declare(strict_types=1);

namespace Spiral\RoadRunner\Tcp;

final class Request implements RequestInterface
{
    public function __construct(
        private readonly string $remoteAddr,
        private readonly TcpEvent $event,
        private readonly string $body,
        private readonly string $connectionUuid,
        private readonly string $server,
    ) {
    }

    public function getRemoteAddress(): string
    {
        return $this->remoteAddr;
    }

    public function getEvent(): TcpEvent
    {
        return $this->event;
    }

    public function getBody(): string
    {
        return $this->body;
    }

    public function getConnectionUuid(): string
    {
        return $this->connectionUuid;
    }

    public function getServer(): string
    {
        return $this->server;
    }
}
