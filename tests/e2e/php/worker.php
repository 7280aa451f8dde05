<?php

/*
 * worker.php - the scriptable test worker.  Every event is recorded (see
 * common.php).  CONNECTED: WRITE $GREETING ("{pid}" replaced) + CRLF, or
 * CONTINUE when GREETING is empty.  CLOSE: CONTINUE.  DATA: the message,
 * delimiter stripped, is a command:
 *
 *   ECHO x     WRITE "x\r\n"            PID      WRITE "<pid>\r\n"
 *   UUID       WRITE "<uuid>\r\n"       CTX      WRITE "<raw ctx>\r\n"
 *   CWD        WRITE "<getcwd()>\r\n"   ENV N    WRITE "<getenv(N)>\r\n"
 *   QUIT       WRITECLOSE "bye\r\n"     CLOSE    close()
 *   ERR        error("boom")            EXIT     exit(1), no answer
 *   STOP tag   first time for tag: $worker->stop(); afterwards WRITE "rerun <pid>"
 *   UNKNOWN    response ctx "FOO"       GARBAGE  15 bytes of junk on stdout
 *   SLEEP n    sleep n s, WRITE "slept\r\n"
 *   SAY text   echo text (lands on stderr), WRITE "said\r\n"
 *   EMPTY      WRITE ""                 anything else: CONTINUE
 */

declare(strict_types=1);

require __DIR__ . '/common.php';

use Spiral\RoadRunner\Payload;
use Spiral\RoadRunner\Tcp\TcpEvent;
use Spiral\RoadRunner\Tcp\TcpResponse;
use Spiral\RoadRunner\Tcp\TcpWorker;
use Spiral\RoadRunner\Worker;

$pid = \getmypid();
record(['pid' => $pid, 'event' => 'START']);

$worker = new RecordingWorker(Worker::create());
$tcp = new TcpWorker($worker);
$greeting = (string) \getenv('GREETING');

function strip_delimiter(string $body): string
{
    foreach (["\r\n", "\n", '<END>'] as $d) {
        if (\str_ends_with($body, $d)) {
            return \substr($body, 0, -\strlen($d));
        }
    }
    return $body;
}

while (($req = $tcp->waitRequest()) !== null) {
    record_event($req, $worker->last);

    if ($req->getEvent() === TcpEvent::Connected) {
        if ($greeting === '') {
            $tcp->read();
        } else {
            $tcp->respond(\str_replace('{pid}', (string) $pid, $greeting) . "\r\n");
        }
        continue;
    }
    if ($req->getEvent() !== TcpEvent::Data) {
        $tcp->read();   /* CLOSE: the answer is ignored by the server */
        continue;
    }

    $parts = \explode(' ', strip_delimiter($req->getBody()), 2);
    $cmd = $parts[0];
    $arg = $parts[1] ?? '';

    if ($cmd === 'ECHO') {
        $tcp->respond($arg . "\r\n");
    } elseif ($cmd === 'PID') {
        $tcp->respond($pid . "\r\n");
    } elseif ($cmd === 'UUID') {
        $tcp->respond($req->getConnectionUuid() . "\r\n");
    } elseif ($cmd === 'CTX') {
        $tcp->respond((string) $worker->last?->header . "\r\n");
    } elseif ($cmd === 'CWD') {
        $tcp->respond(\getcwd() . "\r\n");
    } elseif ($cmd === 'ENV') {
        $v = \getenv($arg);
        $tcp->respond(($v === false ? '<unset>' : $v) . "\r\n");
    } elseif ($cmd === 'QUIT') {
        $tcp->respond("bye\r\n", TcpResponse::RespondClose);
    } elseif ($cmd === 'CLOSE') {
        $tcp->close();
    } elseif ($cmd === 'ERR') {
        $worker->error('boom');
    } elseif ($cmd === 'EXIT') {
        exit(1);
    } elseif ($cmd === 'STOP') {
        $marker = \getenv('STATE_DIR') . '/stop-' . $arg;
        if (@\fopen($marker, 'x') !== false) {
            $worker->stop();
        } else {
            $tcp->respond('rerun ' . $pid . "\r\n");
        }
    } elseif ($cmd === 'UNKNOWN') {
        $worker->respond(new Payload('', 'FOO'));
    } elseif ($cmd === 'GARBAGE') {
        \fwrite(\STDOUT, 'garbage!!!!!!!!');
        \fflush(\STDOUT);
        /* no answer: the server must kill this worker */
    } elseif ($cmd === 'SLEEP') {
        \usleep((int) ((float) $arg * 1000000));
        $tcp->respond("slept\r\n");
    } elseif ($cmd === 'SAY') {
        echo $arg, "\n";
        $tcp->respond("said\r\n");
    } elseif ($cmd === 'EMPTY') {
        $tcp->respond('');
    } else {
        $tcp->read();
    }
}
