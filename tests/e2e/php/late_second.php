<?php

/*
 * late_second.php - answers "TWICE" twice: "first\r\n" at once, then, after
 * 300 ms, a second WRITE "second\r\n" nobody asked for (a worker bug that
 * goridge cannot detect: it has no sequence numbers).  Anything else: ECHO.
 * CONNECTED and CLOSE: CONTINUE.  Every event is recorded (common.php).
 */

declare(strict_types=1);

require __DIR__ . '/common.php';

use Spiral\RoadRunner\Tcp\TcpEvent;
use Spiral\RoadRunner\Tcp\TcpWorker;
use Spiral\RoadRunner\Worker;

record(['pid' => \getmypid(), 'event' => 'START']);

$worker = new RecordingWorker(Worker::create());
$tcp = new TcpWorker($worker);

while (($req = $tcp->waitRequest()) !== null) {
    record_event($req, $worker->last);
    if ($req->getEvent() !== TcpEvent::Data) {
        $tcp->read();
        continue;
    }
    $body = \rtrim($req->getBody(), "\r\n");
    if ($body === 'TWICE') {
        $tcp->respond("first\r\n");
        \usleep(300000);
        $tcp->respond("second\r\n");
    } else {
        $tcp->respond($body . "\r\n");
    }
}
