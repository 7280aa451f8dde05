<?php

/*
 * rrtcp example worker: a small SMTP-like line service on tcp.servers.smtp.
 *
 * It is written against the public API of spiral/roadrunner-tcp, so it runs
 * unchanged with the real packages (composer require spiral/roadrunner-tcp)
 * or, on a machine without composer, with the fallback classes in php/.
 *
 * Workers keep no state between events: each event of a connection may go
 * to a different worker process. Per-connection state therefore lives
 * outside the process, keyed by the connection uuid. This example keeps it
 * in one file per connection in the temp directory; production code would
 * use Redis or the RoadRunner KV plugin. rrtcp hands a connection's events
 * to workers one at a time, so the file needs no locking.
 *
 * rrtcp delivers one line per DATA event, with the "\r\n" delimiter still
 * attached. Anything echoed goes to stderr, which rrtcp writes to its log.
 */

declare(strict_types=1);

$autoload = __DIR__ . '/vendor/autoload.php';
require is_file($autoload) ? $autoload : __DIR__ . '/php/autoload.php';

use Spiral\RoadRunner\Tcp\TcpEvent;
use Spiral\RoadRunner\Tcp\TcpResponse;
use Spiral\RoadRunner\Tcp\TcpWorker;
use Spiral\RoadRunner\Worker;

function state_file(string $uuid): string
{
    if (!preg_match('/^[0-9a-f-]{36}$/', $uuid)) {
        throw new InvalidArgumentException("bad connection uuid: $uuid");
    }

    return sys_get_temp_dir() . '/rrtcp-smtp-' . $uuid;
}

/** A fresh mail transaction; 'data' is null until DATA starts collecting. */
function new_state(string $helo = ''): array
{
    return ['helo' => $helo, 'from' => null, 'rcpt' => [], 'data' => null];
}

function load_state(string $uuid): array
{
    $saved = @file_get_contents(state_file($uuid));

    return $saved === false ? new_state() : unserialize($saved, ['allowed_classes' => false]);
}

function save_state(string $uuid, array $state): void
{
    file_put_contents(state_file($uuid), serialize($state));
}

/**
 * Handles one line of the dialogue and updates $s.
 *
 * @return array{string, TcpResponse} the reply and how to send it
 */
function smtp_line(array &$s, string $line): array
{
    $text = rtrim($line, "\r\n");

    if ($s['data'] !== null) {
        if ($text !== '.') {
            // Undo dot-stuffing; no reply until the final "." line.
            $s['data'] .= str_starts_with($line, '.') ? substr($line, 1) : $line;
            return ['', TcpResponse::Read];
        }
        $id = bin2hex(random_bytes(6));
        echo "smtp: queued $id from=<{$s['from']}> rcpt=<" . implode('>,<', $s['rcpt']) . '> '
            . strlen($s['data']) . " bytes\n";
        $s = new_state($s['helo']);
        return ["250 OK queued as $id\r\n", TcpResponse::Respond];
    }

    [$verb, $arg] = array_pad(explode(' ', $text, 2), 2, '');

    switch (strtoupper($verb)) {
        case 'HELO':
        case 'EHLO':
            $s = new_state(trim($arg));
            return ["250 Hello {$s['helo']}\r\n", TcpResponse::Respond];
        case 'MAIL':
            if (!preg_match('/^FROM:\s*<?([^>]*)>?$/i', trim($arg), $m)) {
                return ["501 Syntax: MAIL FROM:<address>\r\n", TcpResponse::Respond];
            }
            $s = new_state($s['helo']);
            $s['from'] = $m[1];
            return ["250 OK\r\n", TcpResponse::Respond];
        case 'RCPT':
            if (!preg_match('/^TO:\s*<?([^>]*)>?$/i', trim($arg), $m)) {
                return ["501 Syntax: RCPT TO:<address>\r\n", TcpResponse::Respond];
            }
            if ($s['from'] === null) {
                return ["503 Need MAIL first\r\n", TcpResponse::Respond];
            }
            $s['rcpt'][] = $m[1];
            return ["250 OK\r\n", TcpResponse::Respond];
        case 'DATA':
            if ($s['rcpt'] === []) {
                return ["503 Need RCPT first\r\n", TcpResponse::Respond];
            }
            $s['data'] = '';
            return ["354 End data with <CR><LF>.<CR><LF>\r\n", TcpResponse::Respond];
        case 'RSET':
            $s = new_state($s['helo']);
            return ["250 OK\r\n", TcpResponse::Respond];
        case 'NOOP':
            return ["250 OK\r\n", TcpResponse::Respond];
        case 'QUIT':
            return ["221 Bye\r\n", TcpResponse::RespondClose];
        default:
            return ["500 unknown command\r\n", TcpResponse::Respond];
    }
}

$worker = Worker::create();
$tcp = new TcpWorker($worker);

while ($request = $tcp->waitRequest()) {
    try {
        $uuid = $request->getConnectionUuid();

        switch ($request->getEvent()) {
            case TcpEvent::Connected:
                save_state($uuid, new_state());
                echo "smtp: connect {$request->getRemoteAddress()} $uuid\n";
                $tcp->respond("220 rrtcp ESMTP ready\r\n");
                break;
            case TcpEvent::Data:
                $state = load_state($uuid);
                [$reply, $how] = smtp_line($state, $request->getBody());
                save_state($uuid, $state);
                $tcp->respond($reply, $how);
                break;
            default:
                // CLOSE (or an unknown event): forget the connection. The
                // server waits for an answer here and then ignores it.
                @unlink(state_file($uuid));
                $tcp->close();
        }
    } catch (Throwable $e) {
        // One answer per event: the error frame makes rrtcp log it and
        // close the connection; this worker keeps serving.
        $worker->error((string) $e);
    }
}
