/** The ops console's stylesheet (dashboard.ts puts it in the page's <style>). */

export const DASHBOARD_CSS = `
  :root { font-family: system-ui, sans-serif; color: #1d2430; background: #f6f7f9; }
  body { margin: 0; padding: 24px; }
  h1 { margin: 0 0 4px; font-size: 22px; }
  h2 { font-size: 16px; margin: 24px 0 8px; display: flex; gap: 12px; align-items: center; }
  h3 { font-size: 13px; margin: 16px 0 6px; color: #667; text-transform: uppercase; letter-spacing: .04em; }
  .sub { color: #667; margin-bottom: 20px; display: flex; gap: 8px; align-items: center; }
  .cards { display: grid; grid-template-columns: repeat(4, minmax(140px, 1fr)); gap: 12px; margin-bottom: 16px; }
  .card { background: white; border-radius: 8px; padding: 14px 16px; box-shadow: 0 1px 2px #0001; }
  .card .label, .label { color: #667; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
  .card .value { font-size: 28px; font-variant-numeric: tabular-nums; margin-top: 4px; }
  .charts { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; margin-bottom: 16px; }
  .row { display: grid; grid-template-columns: 3fr 1fr; gap: 12px; align-items: start; }
  .row h2 { margin-top: 8px; }
  svg { width: 100%; height: 160px; background: white; border-radius: 8px; box-shadow: 0 1px 2px #0001; }
  table { width: 100%; border-collapse: collapse; background: white; border-radius: 8px; box-shadow: 0 1px 2px #0001; }
  th, td { text-align: left; padding: 7px 12px; border-bottom: 1px solid #eef; font-variant-numeric: tabular-nums; }
  th { font-size: 12px; color: #667; text-transform: uppercase; }
  tr.open { cursor: pointer; }
  tr.open:hover, tr.open:focus { background: #f0f4fb; outline: none; }
  tr.draining { color: #99a; }
  .bar { height: 8px; background: #4c78a8; border-radius: 4px; }
  #status.down { color: #b33; }
  button { font: inherit; font-size: 13px; padding: 3px 10px; border: 1px solid #c8cdd6; border-radius: 6px; background: white; cursor: pointer; }
  button:disabled { cursor: default; color: #99a; }
  button.link { border: none; padding: 0; color: #2f5f9e; background: none; text-decoration: underline; }
  select, input { font: inherit; font-size: 13px; padding: 3px 6px; border: 1px solid #c8cdd6; border-radius: 6px; background: white; }
  .toolbar { display: flex; gap: 12px; align-items: center; margin-bottom: 8px; font-size: 13px; }
  .toolbar .spacer { flex: 1; }
  .error { color: #a33; font-family: ui-monospace, monospace; font-size: 13px; word-break: break-word; }
  .note { color: #667; font-size: 13px; font-weight: normal; }
  .note.bad { color: #a33; }
  .mono { font-family: ui-monospace, monospace; font-size: 12px; }
  .nowrap { white-space: nowrap; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #e8ebf0; }
  .badge.QUEUED, .badge.WAITING { background: #e8eefb; color: #2f5f9e; }
  .badge.RUNNING { background: #fdf1dc; color: #8a5a00; }
  .badge.COMPLETED { background: #e3f4e6; color: #22692f; }
  .badge.FAILED { background: #fbe4e4; color: #a33; }
  .badge.CANCELLED { background: #eee; color: #666; }
  #detail { position: fixed; top: 0; right: 0; bottom: 0; width: min(560px, 100%); overflow: auto; background: white;
    box-shadow: -4px 0 16px #0002; padding: 20px 24px; box-sizing: border-box; }
  #detail h2 { margin-top: 0; justify-content: space-between; }
  #detail .actions { display: flex; gap: 8px; align-items: center; }
  #detail dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 16px 0 0; font-size: 14px; }
  #detail dt { color: #667; }
  #detail dd { margin: 0; font-variant-numeric: tabular-nums; word-break: break-word; }
  pre { background: #f6f7f9; border-radius: 6px; padding: 10px 12px; margin: 0; font-size: 12px; white-space: pre-wrap;
    word-break: break-word; max-height: 320px; overflow: auto; }
  #token-dialog { position: fixed; inset: 0; background: #1d243080; display: flex; align-items: center; justify-content: center; }
  #token-dialog[hidden], #detail[hidden] { display: none; }
  #token-form { background: white; border-radius: 8px; padding: 20px 24px; width: 340px; box-shadow: 0 8px 24px #0003; }
  #token-form h2 { margin-top: 0; }
  #token-form input { width: 100%; box-sizing: border-box; margin: 8px 0 12px; }
`;
