/**
 * The echo client of the first exercises: `[CLIENT {id}] Message N°{n}`
 * `loop.amount` times, one every `loop.period`, each answer checked.
 *
 * @module
 */

import { MessageType } from "../../protocol/mod.ts";
import { EXIT_FAIL, EXIT_OK } from "../../util/mod.ts";
import type { ClientConfig } from "../config/mod.ts";
import { log } from "../log.ts";
import { sleep } from "../shutdown.ts";
import { stopped } from "./_outcome.ts";
import type { Peer } from "./peer.ts";

/** What {@linkcode echoLoop} needs besides the peer. */
export interface EchoOptions {
  /** The client's configuration (id, loop.amount, loop.period). */
  config: ClientConfig;
  /** Aborting it ends the loop at once, with exit code 0. */
  signal: AbortSignal;
}

/** Sends the echo messages and checks each answer; returns the exit code. */
export async function echoLoop(peer: Peer, { config, signal }: EchoOptions): Promise<number> {
  for (let n = 1; n <= config.loopAmount; n++) {
    const text = `[CLIENT ${config.id}] Message N°${n}`;
    await peer.send({ type: MessageType.ECHO, text });
    const reply = await peer.expect(MessageType.ECHO_REPLY);
    if (reply.text !== text) {
      log.error({
        action: "receive_message",
        result: "fail",
        client_id: config.id,
        msg: reply.text,
      });
      return EXIT_FAIL;
    }
    log.info({
      action: "receive_message",
      result: "success",
      client_id: config.id,
      msg: reply.text,
    });
    if (n < config.loopAmount && !(await sleep(config.loopPeriodMs, signal))) {
      return stopped(signal);
    }
  }
  log.info({ action: "loop_finished", result: "success", client_id: config.id });
  return EXIT_OK;
}
