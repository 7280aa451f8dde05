<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Exception\RoadRunnerException
 * (spiral/roadrunner-worker): a control frame the worker cannot handle,
 * e.g. {"pid":0} ("undefined control package", rrtcp-protocol(7) 2).
 */

declare(strict_types=1);

namespace Spiral\RoadRunner\Exception;

class RoadRunnerException extends \RuntimeException
{
}
