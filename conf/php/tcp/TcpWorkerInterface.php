<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Tcp\TcpWorkerInterface
 * (spiral/roadrunner-tcp): the TCP request loop (rrtcp-protocol(7) 4).
 */

declare(strict_types=1);

namespace Spiral\RoadRunner\Tcp;

use Spiral\RoadRunner\WorkerAwareInterface;

interface TcpWorkerInterface extends WorkerAwareInterface
{
    /** Next TCP event, or null when the worker must exit. */
    public function waitRequest(): ?RequestInterface;

    public function respond(string $body, TcpResponse $response = TcpResponse::Respond): void;

    /** Close the connection (response CLOSE). */
    public function close(): void;

    /** Keep reading without writing (response CONTINUE). */
    public function read(): void;
}
