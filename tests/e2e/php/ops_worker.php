<?php

/*
 * ops_worker.php - the test worker for the operations tests (RPC from inside
 * an event, supervisor limits).  Every event is recorded (see common.php).
 * CONNECTED and CLOSE: CONTINUE.  DATA: the message, delimiter stripped, is
 * a command:
 *
 *   PID        WRITE "<pid>\r\n"          ECHO x     WRITE "x\r\n"
 *   UUID       WRITE "<uuid>\r\n"         SLEEP n    sleep n s, WRITE "slept\r\n"
 *   ALLOC n    keep n MiB allocated (and touched), WRITE "allocated <pid>\r\n"
 *   SELFCLOSE  tcp.Close(<own uuid>) over RR_RPC from inside this event,
 *              records {"event":"RPC",...}, then WRITE "closed\r\n"
 *   RESET      resetter.Reset("tcp") over RR_RPC from inside this event,
 *              records {"event":"RPC",...}, then WRITE "reset <json>\r\n"
 *   anything else: CONTINUE
 *
 * An RPC failure is recorded and answered as "rpcerror <message>\r\n".
 * The RPC client is Spiral\Goridge\RPC\RPC::create(getenv('RR_RPC')), the
 * goridge API (conf/php fallback).
 */

declare(strict_types=1);

require __DIR__ . '/common.php';

use Spiral\Goridge\RPC\RPC;
use Spiral\RoadRunner\Tcp\TcpEvent;
use Spiral\RoadRunner\Tcp\TcpWorker;
use Spiral\RoadRunner\Worker;

$pid = \getmypid();
record(['pid' => $pid, 'event' => 'START']);

$worker = new RecordingWorker(Worker::create());
$tcp = new TcpWorker($worker);
$hog = [];

function rpc_in_event(string $method, mixed $arg, string $uuid): array
{
    $addr = (string) \getenv('RR_RPC');
    try {
        $rpc = RPC::create($addr);
        $result = $rpc->call($method, $arg);
        $entry = ['ok' => true, 'result' => $result];
    } catch (\Throwable $e) {
        $entry = ['ok' => false, 'error' => \get_class($e) . ': ' . $e->getMessage()];
    }
    record(['pid' => \getmypid(), 'event' => 'RPC', 'uuid' => $uuid,
        'method' => $method, 'rr_rpc' => $addr] + $entry);
    return $entry;
}

while (($req = $tcp->waitRequest()) !== null) {
    record_event($req, $worker->last);

    if ($req->getEvent() !== TcpEvent::Data) {
        $tcp->read();   /* CONNECTED: read on; CLOSE: ignored by the server */
        continue;
    }

    $body = $req->getBody();
    if (\str_ends_with($body, "\r\n")) {
        $body = \substr($body, 0, -2);
    }
    $parts = \explode(' ', $body, 2);
    $cmd = $parts[0];
    $arg = $parts[1] ?? '';

    if ($cmd === 'PID') {
        $tcp->respond($pid . "\r\n");
    } elseif ($cmd === 'ECHO') {
        $tcp->respond($arg . "\r\n");
    } elseif ($cmd === 'UUID') {
        $tcp->respond($req->getConnectionUuid() . "\r\n");
    } elseif ($cmd === 'SLEEP') {
        \usleep((int) ((float) $arg * 1000000));
        $tcp->respond("slept\r\n");
    } elseif ($cmd === 'ALLOC') {
        /* str_repeat writes every byte: the pages are resident. */
        $hog[] = \str_repeat("\x5a", ((int) $arg) << 20);
        $tcp->respond('allocated ' . $pid . "\r\n");
    } elseif ($cmd === 'SELFCLOSE') {
        $r = rpc_in_event('tcp.Close', $req->getConnectionUuid(), $req->getConnectionUuid());
        $tcp->respond($r['ok'] ? "closed\r\n" : 'rpcerror ' . $r['error'] . "\r\n");
    } elseif ($cmd === 'RESET') {
        $r = rpc_in_event('resetter.Reset', 'tcp', $req->getConnectionUuid());
        $tcp->respond($r['ok'] ? 'reset ' . \json_encode($r['result']) . "\r\n"
            : 'rpcerror ' . $r['error'] . "\r\n");
    } else {
        $tcp->read();
    }
}
