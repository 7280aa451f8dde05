<?php

/*
 * rrtcp fallback autoloader: used when composer's vendor/autoload.php is
 * missing. It maps the namespaces of the three PHP packages a TCP worker
 * needs onto the small fallback classes next to this file:
 *
 *   Spiral\Goridge\         -> goridge/  (spiral/goridge)
 *   Spiral\RoadRunner\Tcp\  -> tcp/      (spiral/roadrunner-tcp)
 *   Spiral\RoadRunner\      -> worker/   (spiral/roadrunner-worker)
 *
 * The classes follow the rrtcp wire protocol (rrtcp-protocol(7)) byte for byte.
 * With composer installed, use vendor/autoload.php instead: user code runs
 * unchanged against either.
 */

declare(strict_types=1);

spl_autoload_register(static function (string $class): void {
    // Longest prefix first, so Tcp\ wins over RoadRunner\.
    static $map = [
        'Spiral\\RoadRunner\\Tcp\\' => __DIR__ . '/tcp/',
        'Spiral\\RoadRunner\\' => __DIR__ . '/worker/',
        'Spiral\\Goridge\\' => __DIR__ . '/goridge/',
    ];

    foreach ($map as $prefix => $dir) {
        if (strncmp($class, $prefix, strlen($prefix)) === 0) {
            $file = $dir . str_replace('\\', '/', substr($class, strlen($prefix))) . '.php';
            if (is_file($file)) {
                require $file;
            }
            return;
        }
    }
});
