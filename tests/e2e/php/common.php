<?php

/*
 * common.php - shared by the e2e test workers.
 *
 * RecordingWorker wraps the real Worker so that the raw request context
 * (the frame's header bytes) can be recorded while TcpWorker still does the
 * decoding.  record_event() appends one JSON line per event to the file
 * named by $EVENTS_LOG (LOCK_EX: several workers append to it).
 */

declare(strict_types=1);

require __DIR__ . '/../../../conf/php/autoload.php';

use Spiral\RoadRunner\Payload;
use Spiral\RoadRunner\WorkerInterface;

final class RecordingWorker implements WorkerInterface
{
    public ?Payload $last = null;

    public function __construct(public readonly WorkerInterface $inner)
    {
    }

    public function waitPayload(): ?Payload
    {
        $this->last = $this->inner->waitPayload();
        return $this->last;
    }

    /* variadic: compatible with respond(Payload) and respond(Payload, $codec) */
    public function respond(Payload $payload, mixed ...$rest): void
    {
        $this->inner->respond($payload, ...$rest);
    }

    public function error(string $error): void
    {
        $this->inner->error($error);
    }

    public function stop(): void
    {
        $this->inner->stop();
    }

    public function hasPayload(?string $class = null): bool
    {
        return \method_exists($this->inner, 'hasPayload')
            ? $this->inner->hasPayload($class) : false;
    }

    public function getPayload(?string $class = null): ?Payload
    {
        return \method_exists($this->inner, 'getPayload')
            ? $this->inner->getPayload($class) : null;
    }
}

function record(array $entry): void
{
    $file = \getenv('EVENTS_LOG');
    if ($file === false || $file === '') {
        return;
    }
    $line = \json_encode($entry, \JSON_UNESCAPED_SLASHES | \JSON_INVALID_UTF8_SUBSTITUTE);
    \file_put_contents($file, $line . "\n", \FILE_APPEND | \LOCK_EX);
}

function record_event(object $req, ?Payload $raw): void
{
    record([
        'pid' => \getmypid(),
        'event' => $req->getEvent()->value,
        'uuid' => $req->getConnectionUuid(),
        'server' => $req->getServer(),
        'remote_addr' => $req->getRemoteAddress(),
        'body' => \base64_encode($req->getBody()),
        'ctx' => $raw?->header,
    ]);
}
