// The live widgets, for KoproGo's frontend: `connect(token)` once, then give each widget the
// `api` and a building id.
export { connect, ApiError } from "./api.js";
export { default as SensorTable } from "./SensorTable.svelte";
export { default as ConsumptionChart } from "./ConsumptionChart.svelte";
export { default as AlertList } from "./AlertList.svelte";
export { default as RejectedMessages } from "./RejectedMessages.svelte";
export { default as StatementTable } from "./StatementTable.svelte";
