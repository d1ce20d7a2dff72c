// Download the files that start the plan's design (POST /api/v1/deploy/archive).
import { $, api, describe, notice } from "./core.js";

export async function downloadDeployment() {
  const target = $("deploy-target").value;
  try {
    notice(`writing the ${target} files...`);
    const response = await api("deploy/archive", { method: "POST", raw: true, body: { text: $("yaml").value, target } });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(await response.blob());
    a.download = `deploy-${target}.zip`;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    notice(`deploy-${target}.zip ready`);
  } catch (err) { notice(`deployment failed: ${describe(err)}`, true); }
}
