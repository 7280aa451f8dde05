<?php

/*
 * bench/php/echo_worker.php - the cheapest PHP worker for rrtcp benchmarks.
 *
 * DATA -> WRITE with the same body; CONNECTED -> CONTINUE, or WRITE
 * $ECHO_GREETING when that is set (loadgen -g waits for it); CLOSE and
 * anything else -> CONTINUE.  It loads the fallback library in conf/php
 * (or composer's vendor/ if one is installed next to conf/worker.php), so
 * the figures are those of the PHP side that users actually run.
 */

declare(strict_types=1);

$vendor = __DIR__ . '/../../conf/vendor/autoload.php';
require is_file($vendor) ? $vendor : __DIR__ . '/../../conf/php/autoload.php';

use Spiral\RoadRunner\Tcp\TcpEvent;
use Spiral\RoadRunner\Tcp\TcpWorker;
use Spiral\RoadRunner\Worker;

$greeting = getenv('ECHO_GREETING');
$tcp = new TcpWorker(Worker::create());

while ($request = $tcp->waitRequest()) {
    $event = $request->getEvent();
    if ($event === TcpEvent::Data) {
        $tcp->respond($request->getBody());
    } elseif ($event === TcpEvent::Connected && $greeting !== false) {
        $tcp->respond($greeting);
    } else {
        $tcp->read();
    }
}
