<?php

/*
 * big_reply.php - answers with large bodies, for the tests of replies that
 * outgrow the socket buffers.  Every event is recorded (see common.php).
 * CONNECTED and CLOSE: CONTINUE.  DATA (delimiter stripped):
 *
 *   BIG n      WRITE n bytes of pattern(n): "0123456789abcdef" repeated, cut
 *   anything else: WRITE "?\r\n"
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
    $parts = \explode(' ', \rtrim($req->getBody(), "\r\n"), 2);
    if ($parts[0] === 'BIG') {
        $n = (int) ($parts[1] ?? '0');
        $tcp->respond(\substr(\str_repeat('0123456789abcdef', \intdiv($n, 16) + 1), 0, $n));
    } else {
        $tcp->respond("?\r\n");
    }
}
