<?php

/*
 * garbage_boot.php - prints to stdout before Worker::create() installs its
 * stdout interceptor, so the first thing the server reads is not a frame.
 */

declare(strict_types=1);

echo "this is not a goridge frame, sorry\n";

require __DIR__ . '/../../../conf/php/autoload.php';

use Spiral\RoadRunner\Tcp\TcpWorker;
use Spiral\RoadRunner\Worker;

$tcp = new TcpWorker(Worker::create());
while ($tcp->waitRequest() !== null) {
    $tcp->read();
}
