<?php

/*
 * Test worker for tests/php/vectors.php, on the rrtcp fallback library
 * (conf/php). It replays the worker of rrtcp-protocol(7) section 6, "Observed
 * full worker session":
 *   CONNECTED     -> WRITE "220 ok\r\n"                        (V2)
 *   DATA ECHO     -> echo/print/logger to stderr, CONTINUE      (V3)
 *   DATA ERR      -> error frame "boom"                         (V6)
 *   DATA QUIT     -> WRITECLOSE "bye\r\n"                       (V9)
 *   DATA STOP     -> Worker::stop()                             (V7)
 *   DATA other    -> WRITE <body> (echo back)
 *   CLOSE         -> CONTINUE                                   (V3)
 *   unknown event -> WRITE "event=<case name>"
 */

declare(strict_types=1);

require __DIR__ . '/../../../conf/php/autoload.php';

use Spiral\RoadRunner\Tcp\TcpEvent;
use Spiral\RoadRunner\Tcp\TcpResponse;
use Spiral\RoadRunner\Tcp\TcpWorker;
use Spiral\RoadRunner\Worker;

$worker = Worker::create();
$tcp = new TcpWorker($worker);

while ($request = $tcp->waitRequest()) {
    $event = $request->getEvent();

    if ($event === TcpEvent::Connected) {
        $tcp->respond("220 ok\r\n");
    } elseif ($event === TcpEvent::Close) {
        $tcp->read();
    } elseif ($event !== TcpEvent::Data) {
        $tcp->respond('event=' . $event->name);
    } else {
        match ($request->getBody()) {
            "ECHO\r\n" => (function () use ($tcp, $worker): void {
                echo 'hello from echo';
                print '+print';
                $worker->getLogger()->info('logged', ['n' => 1]);
                $tcp->read();
            })(),
            "ERR\r\n" => $worker->error('boom'),
            "QUIT\r\n" => $tcp->respond("bye\r\n", TcpResponse::RespondClose),
            "STOP\r\n" => $worker->stop(),
            default => $tcp->respond($request->getBody()),
        };
    }
}
