<?php

/*
 * rrtcp fallback for Spiral\Goridge\RPC\RPCInterface (spiral/goridge):
 * calls a server method such as "tcp.Close" over the RPC socket
 * (rrtcp-protocol(7) 5).
 */

declare(strict_types=1);

namespace Spiral\Goridge\RPC;

interface RPCInterface
{
    public function withServicePrefix(string $service): self;

    public function withCodec(CodecInterface $codec): self;

    /**
     * @throws Exception\RPCException     malformed reply
     * @throws Exception\ServiceException the server replied with an error
     */
    public function call(string $method, mixed $payload, mixed $options = null): mixed;
}
