<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\EnvironmentInterface
 * (spiral/roadrunner-worker): the RR_* variables the server passes to each
 * worker (rrtcp-protocol(7) 3.1).
 */

declare(strict_types=1);

namespace Spiral\RoadRunner;

interface EnvironmentInterface
{
    /** RR_MODE, "tcp" under rrtcp. */
    public function getMode(): string;

    /** RR_RELAY, "pipes" by default. */
    public function getRelayAddress(): string;

    /** RR_RPC, "tcp://127.0.0.1:6001" by default. */
    public function getRPCAddress(): string;
}
