<?php

/*
 * env.php - answers CONNECTED with one JSON line describing its environment:
 * {"pid":N,"cwd":"...","vars":{NAME:value},"dups":[names seen twice in
 * /proc/self/environ]}.  DATA: close(); CLOSE: CONTINUE.
 */

declare(strict_types=1);

require __DIR__ . '/../../../conf/php/autoload.php';

use Spiral\RoadRunner\Tcp\TcpEvent;
use Spiral\RoadRunner\Tcp\TcpWorker;
use Spiral\RoadRunner\Worker;

function environment(): array
{
    $vars = [];
    $count = [];
    foreach (\explode("\0", (string) \file_get_contents('/proc/self/environ')) as $kv) {
        if ($kv === '') {
            continue;
        }
        $i = \strpos($kv, '=');
        $name = $i === false ? $kv : \substr($kv, 0, $i);
        $vars[$name] = $i === false ? '' : \substr($kv, $i + 1);
        $count[$name] = ($count[$name] ?? 0) + 1;
    }
    $dups = \array_keys(\array_filter($count, static fn (int $n): bool => $n > 1));
    return ['pid' => \getmypid(), 'cwd' => \getcwd(), 'vars' => $vars, 'dups' => $dups];
}

$tcp = new TcpWorker(Worker::create());

while (($req = $tcp->waitRequest()) !== null) {
    if ($req->getEvent() === TcpEvent::Connected) {
        $tcp->respond(\json_encode(environment(), \JSON_UNESCAPED_SLASHES | \JSON_INVALID_UTF8_SUBSTITUTE) . "\r\n");
    } elseif ($req->getEvent() === TcpEvent::Data) {
        $tcp->close();
    } else {
        $tcp->read();
    }
}
