<?php

/*
 * seed_example.php - the worker from the seed docs (roadrunner-tcp-plugin.md),
 * kept as written: it answers CONNECTED twice (read() then respond("220 ...")),
 * so the second frame arrives when no request is in flight, and it does not
 * answer CLOSE.  Two changes (rrtcp-protocol(7) Q20): the docs read Request's
 * properties, private in roadrunner-tcp 4.x, so this copy calls the getters;
 * and the docs compare remoteAddr ("ip:port" on the wire) with '127.0.0.1',
 * so this copy compares the IP part.
 */

require __DIR__ . '/../../../conf/php/autoload.php';

use Spiral\RoadRunner\Worker;
use Spiral\RoadRunner\Tcp\TcpWorker;
use Spiral\RoadRunner\Tcp\TcpResponse;
use Spiral\RoadRunner\Tcp\TcpEvent;

// Create new RoadRunner worker from global environment
$worker = Worker::create();

$tcpWorker = new TcpWorker($worker);

while ($request = $tcpWorker->waitRequest()) {

    try {
        if ($request->getEvent() === TcpEvent::Connected) {
            // You can close connection according to your restrictions
            if (\substr($request->getRemoteAddress(), 0, \strrpos($request->getRemoteAddress(), ':')) !== '127.0.0.1') {
                $tcpWorker->close();
                continue;
            }

            // Or continue reading data from the server
            // By default, the server closes the connection if a worker
            // doesn't send a CONTINUE response
            $tcpWorker->read();

            // Or send a response to the TCP connection, for example, to an SMTP client
            $tcpWorker->respond("220 mailamie \r\n");

        } elseif ($request->getEvent() === TcpEvent::Data) {

            $body = $request->getBody();

            // Handle request from TCP server [tcp_access_point_1]
            if ($request->getServer() === 'tcp_access_point_1') {

                // Send response and close connection
                $tcpWorker->respond('Access denied', TcpResponse::RespondClose);

            // Handle request from TCP server [server2]
            } elseif ($request->getServer() === 'server2') {

                // Send response to the TCP connection and wait for the next request
                $tcpWorker->respond(\json_encode([
                    'remote_addr' => $request->getRemoteAddress(),
                    'server' => $request->getServer(),
                    'uuid' => $request->getConnectionUuid(),
                    'body' => $request->getBody(),
                    'event' => $request->getEvent()
                ]));
            }

        // Handle closed connection event
        } elseif ($request->getEvent() === TcpEvent::Close) {
            // Do something

            // You don't need to send a response on a closed connection
        }

    } catch (\Throwable $e) {
        $tcpWorker->respond("Something went wrong\r\n", TcpResponse::RespondClose);
        $worker->error((string)$e);
    }
}
