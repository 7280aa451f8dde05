<?php

/*
 * rrtcp fallback for Spiral\Goridge\RPC\RPC (spiral/goridge), following
 * rrtcp-protocol(7) 5.1-5.2. A request is an HL 5 frame:
 *
 *   flags   = codec index (0x08 JSON by default)
 *   options = [seq, strlen(method)]
 *   payload = method . encoded argument
 *
 * seq is static: it starts at 1, is shared by every RPC object of the
 * process and goes up by one after each valid reply. A reply must carry
 * exactly 2 options and the same seq; its payload starts with the method
 * name again (skipped using options[1]); with the ERROR flag the rest is
 * the error text.
 */

declare(strict_types=1);

namespace Spiral\Goridge\RPC;

use Spiral\Goridge\Frame;
use Spiral\Goridge\Relay;
use Spiral\Goridge\RelayInterface;
use Spiral\Goridge\RPC\Codec\JsonCodec;
use Spiral\Goridge\RPC\Exception\RPCException;
use Spiral\Goridge\RPC\Exception\ServiceException;

class RPC implements RPCInterface
{
    protected static int $seq = 1;

    protected ?string $service = null;

    public function __construct(
        private readonly RelayInterface $relay,
        protected CodecInterface $codec = new JsonCodec(),
    ) {
    }

    /** @param string $connection e.g. "tcp://127.0.0.1:6001" or "unix:///run/rr.sock" */
    public static function create(string $connection, CodecInterface $codec = new JsonCodec()): RPCInterface
    {
        return new self(Relay::create($connection), $codec);
    }

    public function withServicePrefix(string $service): RPCInterface
    {
        $rpc = clone $this;
        $rpc->service = $service;

        return $rpc;
    }

    public function withCodec(CodecInterface $codec): RPCInterface
    {
        $rpc = clone $this;
        $rpc->codec = $codec;

        return $rpc;
    }

    public function call(string $method, mixed $payload, mixed $options = null): mixed
    {
        if ($this->service !== null) {
            $method = $this->service . '.' . ucfirst($method);
        }

        $this->relay->send(new Frame(
            $method . $this->codec->encode($payload),
            [self::$seq, strlen($method)],
            $this->codec->getIndex(),
        ));

        $frame = $this->relay->waitFrame();

        if (count($frame->options) !== 2) {
            throw new RPCException('Invalid RPC frame, options missing');
        }
        if ($frame->options[0] !== self::$seq) {
            throw new RPCException('Invalid RPC frame, sequence mismatch');
        }
        self::$seq++;

        $body = substr((string) $frame->payload, $frame->options[1]);

        if ($frame->hasFlag(Frame::ERROR)) {
            $name = $this->relay instanceof \Stringable ? (string) $this->relay : $this->relay::class;
            throw new ServiceException(sprintf("Error '%s' on %s", $body, $name));
        }

        return $this->codec->decode($body, $options);
    }
}
