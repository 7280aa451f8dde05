<?php

/*
 * slow_start.php - worker.php that waits $START_DELAY_MS (default 1000)
 * before it reads anything, so its pid handshake is slow.
 */

declare(strict_types=1);

$ms = \getenv('START_DELAY_MS');
\usleep(1000 * ($ms === false || $ms === '' ? 1000 : (int) $ms));
require __DIR__ . '/worker.php';
