<?php

/*
 * rrtcp fallback for Spiral\RoadRunner\Tcp\TcpWorker (spiral/roadrunner-tcp),
 * following rrtcp-protocol(7) 4.3-4.4 and keeping the library's quirks:
 *
 * - after a stop command waitPayload() returns null, and waitRequest()
 *   then writes a CLOSE response frame before returning null (3.6, Q21);
 * - the context must be JSON (else JsonException); a missing remote_addr,
 *   uuid or server is a TypeError; a missing or unknown event becomes
 *   TcpEvent::Unknown.
 */

declare(strict_types=1);

namespace Spiral\RoadRunner\Tcp;

use Spiral\RoadRunner\Payload;
use Spiral\RoadRunner\WorkerInterface;

class TcpWorker implements TcpWorkerInterface
{
    public function __construct(
        private readonly WorkerInterface $worker,
    ) {
    }

    public function getWorker(): WorkerInterface
    {
        return $this->worker;
    }

    public function waitRequest(): ?RequestInterface
    {
        $payload = $this->worker->waitPayload();

        if ($payload === null) {
            $this->close();
            return null;
        }

        $context = json_decode($payload->header, true, 512, JSON_THROW_ON_ERROR);

        return $this->createRequest($payload->body, $context);
    }

    public function respond(string $body, TcpResponse $response = TcpResponse::Respond): void
    {
        $this->worker->respond(new Payload($body, $response->value));
    }

    public function read(): void
    {
        $this->respond('', TcpResponse::Read);
    }

    public function close(): void
    {
        $this->respond('', TcpResponse::Close);
    }

    private function createRequest(string $body, array $context): Request
    {
        return new Request(
            remoteAddr: $context['remote_addr'],
            event: TcpEvent::tryFrom($context['event'] ?? 'UNKNOWN') ?? TcpEvent::Unknown,
            body: $body,
            connectionUuid: $context['uuid'],
            server: $context['server'],
        );
    }
}
