/** One long-poll, bounded on the client side: `undefined` when it had not answered by then. */

export interface PollBody {
  task_id: string;
  status: string;
  result?: string;
}

export async function longPoll(
  baseUrl: string,
  taskId: string,
  waitMs: number,
  boundMs: number,
): Promise<PollBody | undefined> {
  try {
    const res = await fetch(`${baseUrl}/result/${taskId}?wait=${waitMs}`, {
      signal: AbortSignal.timeout(boundMs),
    });
    return (await res.json()) as PollBody;
  } catch (error) {
    if ((error as Error).name === 'TimeoutError') return undefined;
    throw error;
  }
}
