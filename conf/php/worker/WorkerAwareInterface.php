<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\WorkerAwareInterface
 * (spiral/roadrunner-worker): something built on top of a worker, such as
 * TcpWorker. Follows rrtcp-protocol(7).
 */

declare(strict_types=1);

namespace Spiral\RoadRunner;

interface WorkerAwareInterface
{
    public function getWorker(): WorkerInterface;
}
