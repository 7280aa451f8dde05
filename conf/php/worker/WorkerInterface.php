<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\WorkerInterface
 * (spiral/roadrunner-worker): the worker side of rrtcp-protocol(7) sections 2-3.
 */

declare(strict_types=1);

namespace Spiral\RoadRunner;

interface WorkerInterface
{
    /** Waits for the next request; null once the server asked the worker to stop. */
    public function waitPayload(): ?Payload;

    /** Answers the current request. */
    public function respond(Payload $payload): void;

    /** Answers the current request with an error frame; the worker stays usable. */
    public function error(string $error): void;

    /** Asks the server to replace this worker; it re-runs the request elsewhere. */
    public function stop(): void;
}
