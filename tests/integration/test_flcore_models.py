"""The models clinical researchers train, on the real federation, against their central baselines:
forests and boosting, linear and survival models, a PyTorch net, each also with 10% of its cells
missing (and a categorical column), prepared federatedly on the hosts.

Every training is submitted at once (the runner runs four at a time) and each test reads its
own result, so the module costs about what its slowest batch does.
"""

import shutil
import time
from pathlib import Path

import pytest
from prefect.deployments import run_deployment

from blocks.store import StoreSpec
from federation_helpers import wait_for_final_state
from tasks.baseline import central_score
from tasks.models.torch_mlp import torch_available

pytestmark = pytest.mark.integration

ALL = ["hospital-a", "hospital-b", "hospital-c"]
ROUNDS = 15
MISSING = 0.1
#: name -> (dataset, model); "*-missing" datasets are the same data with 10% of the cells blank.
RUNS = {
    "logreg": ("breast-cancer", "logreg"),
    "random_forest": ("breast-cancer", "random_forest"),
    "weighted_random_forest": ("breast-cancer", "weighted_random_forest"),
    "xgboost": ("breast-cancer", {"name": "xgboost"}),
    "xgboost_cyclic": ("breast-cancer", {"name": "xgboost", "training": "cyclic"}),
    "linear_svm": ("breast-cancer", "linear_svm"),
    "elastic_net": ("breast-cancer", "elastic_net"),
    "cox": ("gbsg2", "cox"),
    "torch_mlp": ("digits", "torch_mlp"),
}
MISSING_RUNS = ("logreg", "random_forest", "xgboost", "linear_svm", "elastic_net", "cox", "torch_mlp")
EIGHT = ["mean_radius", "mean_texture", "mean_perimeter", "mean_area", "mean_smoothness", "mean_compactness",
         "mean_concavity", "mean_concave_points"]
#: name -> (dataset, model, further parameters): the preparation's own options.
PREPARED_RUNS = {
    "logreg-median-missing": ("breast-cancer-missing", "logreg", {"imputation": "median"}),
    "logreg-eight-features": ("breast-cancer", "logreg", {"features": EIGHT}),
}


def add_missing_datasets(stack, dask_client) -> None:
    """Each host gets `{dataset}-missing` beside its complete shards, as an operator adds data."""
    from tasks.data.demo import write_demo_data
    from tasks.hosts import host_records

    scratch = Path(stack.config.home) / "missing-demo"
    datasets = sorted({dataset for dataset, _ in RUNS.values()})
    write_demo_data(scratch, stack.hosts, missing=MISSING, datasets=datasets)
    for host in stack.hosts:
        for dataset in datasets:
            target = Path(stack.data_dirs[host]) / f"{dataset}-missing"
            if not target.exists():
                shutil.copytree(scratch / host / dataset, target)
    deadline = time.monotonic() + 60  # the hosts' agents publish their catalogues every 10 s
    while True:
        records = host_records(dask_client)
        if all({f"{d}-missing" for d in datasets} <= {x["name"] for x in records[h]["datasets"]}
               for h in stack.hosts):
            return
        assert time.monotonic() < deadline, "the hosts did not list their new datasets"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def trained(stack, dask_client):
    """name -> the finished flow run of each training (complete data, and `name-missing`)."""
    add_missing_datasets(stack, dask_client)
    wanted = {name: spec for name, spec in RUNS.items() if name != "torch_mlp" or torch_available()}
    wanted |= {f"{name}-missing": (f"{RUNS[name][0]}-missing", RUNS[name][1]) for name in MISSING_RUNS
               if name in wanted}
    wanted = {name: (dataset, model, {}) for name, (dataset, model) in wanted.items()} | PREPARED_RUNS
    submitted = {name: run_deployment("flcore/default", timeout=0, parameters={
        "server": "hospital-a", "clients": ALL, "dataset": dataset, "model": model, "rounds": ROUNDS,
        "checkpoint_every": 0, **options}) for name, (dataset, model, options) in wanted.items()}
    return {name: wait_for_final_state(run.id, timeout_s=900) for name, run in submitted.items()}


def result_of(trained, name: str):
    if name not in trained:
        pytest.skip("torch is not installed (pip install -e '.[torch]')")
    run = trained[name]
    assert run.state.is_completed(), f"{name}: {run.state.message}"
    return run.state.result()


@pytest.mark.parametrize("name", ["random_forest", "weighted_random_forest", "xgboost", "xgboost_cyclic"])
def test_trees_and_boosting_reach_central_quality(trained, name):
    result = result_of(trained, name)
    central = central_score("breast-cancer", RUNS[name][1], rounds=ROUNDS)

    accuracy = result.final_metrics["accuracy"]
    assert accuracy >= 0.93 and accuracy >= central - 0.02, (accuracy, central)
    assert {"balanced_accuracy", "f1", "roc_auc", "precision", "recall", "specificity"} <= set(result.final_metrics)
    assert result.final_metrics["roc_auc"] > 0.95
    assert all(h["clients"] for h in result.history)


def test_cyclic_boosting_trains_one_client_a_round_in_turn(trained):
    result = result_of(trained, "xgboost_cyclic")

    assert [h["clients"] for h in result.history[:3]] == [["hospital-a"], ["hospital-b"], ["hospital-c"]]


@pytest.mark.parametrize("name, dataset, margin", [("linear_svm", "breast-cancer", 0.02),
                                                   ("elastic_net", "breast-cancer", 0.02),
                                                   ("torch_mlp", "digits", 0.03)])
def test_linear_models_and_the_torch_net_reach_central_quality(trained, name, dataset, margin):
    result = result_of(trained, name)
    central = central_score(dataset, RUNS[name][1])

    assert result.final_metrics["accuracy"] >= central - margin, (result.final_metrics["accuracy"], central)


def test_cox_reaches_the_central_concordance(trained):
    result = result_of(trained, "cox")
    central = central_score("gbsg2", "cox")

    concordance = result.final_metrics["concordance"]
    assert concordance >= central - 0.03, (concordance, central)
    assert set(result.final_metrics["per_client"]) == set(ALL)
    assert all(0.5 < c["concordance"] < 1 for c in result.final_metrics["per_client"].values())


@pytest.mark.parametrize("name", MISSING_RUNS)
def test_ten_percent_missing_cells_cost_at_most_three_points(trained, name):
    complete, missing = result_of(trained, name), result_of(trained, f"{name}-missing")
    quality = "concordance" if name == "cox" else "accuracy"

    assert missing.final_metrics[quality] >= complete.final_metrics[quality] - 0.03, (
        missing.final_metrics[quality], complete.final_metrics[quality])


def test_the_federated_median_fills_the_gaps_and_the_report_says_so(trained, stack):
    complete, median = result_of(trained, "logreg"), result_of(trained, "logreg-median-missing")

    assert median.final_metrics["accuracy"] >= complete.final_metrics["accuracy"] - 0.03, (
        median.final_metrics["accuracy"], complete.final_metrics["accuracy"])
    report = StoreSpec(url=stack.config.store).read_bytes(median.execution_id, "hospital-a", "report.html").decode()
    assert 'id="preparation"' in report and "gaps filled with federated median" in report


def test_eight_chosen_columns_train(trained, stack):
    result = result_of(trained, "logreg-eight-features")

    assert result.final_metrics["accuracy"] >= 0.88
    report = StoreSpec(url=stack.config.store).read_bytes(result.execution_id, "hospital-a", "report.html").decode()
    assert all(f"<td class=\"k\">{column}</td>" in report for column in EIGHT)
    assert "worst_area" not in report.split('id="preparation"')[1]  # only the chosen columns were prepared


def test_a_chosen_column_one_host_lacks_is_refused_before_start_naming_the_host(stack, dask_client):
    import pandas as pd

    from federation_helpers import api_client
    from tasks.hosts import host_records

    for host in ALL:  # hospital-c's extract has no mean_radius
        source = Path(stack.data_dirs[host]) / "breast-cancer"
        target = Path(stack.data_dirs[host]) / "breast-cancer-narrow"
        if not target.exists():
            shutil.copytree(source, target)
            if host == "hospital-c":
                for split in target.glob("*.parquet"):
                    pd.read_parquet(split).drop(columns=["mean_radius"]).to_parquet(split, index=False)
                for split in target.glob("*.csv"):
                    pd.read_csv(split).drop(columns=["mean_radius"]).to_csv(split, index=False)
    deadline = time.monotonic() + 60
    while not all("breast-cancer-narrow" in {d["name"] for d in host_records(dask_client)[h]["datasets"]}
                  for h in ALL):
        assert time.monotonic() < deadline, "the hosts did not list the new dataset"
        time.sleep(0.5)

    with api_client(stack, "narrow") as api:
        refused = api.post("/tools/job/flcore", params={"server_node": "hospital-a", "client_nodes": ALL},
                           json={"dataset": "breast-cancer-narrow", "rounds": 1,
                                 "train_labels": ["mean_radius", "mean_texture"]})
        allowed = api.post("/validate", json={"tool": "flcore", "parameters": {
            "server": "hospital-a", "clients": ALL, "dataset": "breast-cancer-narrow",
            "features": ["mean_texture", "mean_area"]}})

    assert refused.status_code == 422, refused.text
    message = refused.json()["error"]["message"]
    assert "mean_radius" in message and "hospital-c" in message, message
    assert allowed.status_code == 200 and allowed.json()["problems"] == [], allowed.text  # the chosen columns only


def test_metrics_are_pooled_exactly_and_the_report_opens_without_network(trained, stack):
    result = result_of(trained, "random_forest")
    final = result.final_metrics
    matrix = final["confusion_matrix"]

    assert sum(map(sum, matrix)) == final["num_examples"] == 114
    assert final["accuracy"] == pytest.approx((matrix[0][0] + matrix[1][1]) / 114)
    per_client_total = sum(sum(map(sum, c["confusion_matrix"])) for c in final["per_client"].values())
    assert per_client_total == 114  # the pooled matrix is the sum of the hosts' own
    report = StoreSpec(url=stack.config.store).read_bytes(result.execution_id, "hospital-a", "report.html").decode()
    assert "Confusion matrix" in report and "Hosts per round" in report and "<svg" in report
    assert "http://" not in report.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in report
    files = StoreSpec(url=stack.config.store).list_files(result.execution_id, "hospital-a")
    assert "model_final.npz" in files  # the forest's node tables, never a pickle


def pooled_test_rows(stack, dataset: str):
    """Every host's held-out test file, read here as a researcher holding the data would."""
    import pandas as pd

    from tasks.data.catalogue import load_dataset

    frame = pd.concat([load_dataset(stack.data_dirs[h], dataset, "test") for h in ALL], ignore_index=True)
    return frame[frame["target"].notna()]


@pytest.mark.parametrize(("name", "flavor"), [
    ("logreg", "sklearn"), ("linear_svm", "sklearn"), ("elastic_net", "sklearn"), ("random_forest", "sklearn"),
    ("weighted_random_forest", "sklearn"), ("xgboost", "xgboost"), ("xgboost_cyclic", "xgboost"),
    ("logreg-missing", "sklearn"), ("random_forest-missing", "sklearn"), ("xgboost-missing", "xgboost")])
def test_the_registered_model_loads_in_its_library_flavor_and_scores_as_fedpe_did(trained, stack, name, flavor):
    import mlflow
    import mlflow.sklearn
    import mlflow.xgboost

    result = result_of(trained, name)
    dataset = trained[name].parameters["dataset"]
    rows = pooled_test_rows(stack, dataset)
    mlflow.set_tracking_uri(stack.config.mlflow_uri)

    info = mlflow.models.get_model_info(result.model_uri)
    raw = rows.drop(columns="target")
    if flavor == "sklearn":
        predicted = mlflow.sklearn.load_model(result.model_uri).predict(raw)
    else:
        booster = mlflow.xgboost.load_model(f"runs:/{result.mlflow_run_id}/booster")
        predicted = mlflow.pyfunc.load_model(result.model_uri).predict(raw)
    served = mlflow.pyfunc.load_model(result.model_uri).predict(raw)

    assert ("sklearn" if flavor == "sklearn" else "python_function") in info.flavors
    assert info.signature.inputs.input_names() == list(raw.columns)
    assert list(served) == list(predicted)
    # the pooled held-out accuracy fedpe measured on the hosts, from the loaded model's labels
    assert (predicted == rows["target"].to_numpy()).mean() == pytest.approx(result.final_metrics["accuracy"], abs=1e-12)
    if flavor == "xgboost":  # the bare booster in xgboost's own flavour beside the registered pyfunc
        assert booster.num_boosted_rounds() > 0
        assert "xgboost" in mlflow.models.get_model_info(f"runs:/{result.mlflow_run_id}/booster").flavors


def test_a_strategy_that_cannot_combine_the_model_is_refused_before_anything_starts(stack):
    from federation_helpers import api_client

    with api_client(stack, "models") as api:
        krum = api.post("/validate", json={"tool": "flcore", "parameters": {
            "server": "hospital-a", "clients": ALL, "model": "random_forest", "strategy": {"name": "krum"}}})
        scaffold = api.post("/tools/job/flcore", json={"server": "hospital-a", "clients": ALL,
                                                       "model": {"name": "xgboost"}, "strategy": {"name": "scaffold"}})
        dp = api.post("/tools/job/flcore", json={"server": "hospital-a", "clients": ALL, "model": "random_forest",
                                                 "dp": {"noise_multiplier": 1.0}})

    problems = krum.json()["problems"]
    assert krum.status_code == 200 and problems and problems[0]["field"] == "strategy"
    assert scaffold.status_code == 422 and scaffold.json()["error"]["details"]["field"] == "strategy"
    assert dp.status_code == 422 and dp.json()["error"]["details"]["field"] == "dp"


def test_a_fem_job_names_its_model_and_columns_as_fem_does(stack):
    from federation_helpers import api_client

    with api_client(stack, "fem-models") as api:
        submitted = api.post("/tools/job/flcore", params={"server_node": "hospital-a", "client_nodes": ALL},
                             json={"model": "xgb", "rounds": 2, "target_label": "target",
                                   "train_labels": "mean_radius mean_texture mean_area"})
        assert submitted.status_code == 200, submitted.text
        execution_id = submitted.json()["execution_id"]
        final = wait_for_final_state(execution_id, timeout_s=300)
        detail = api.get(f"/executions/{execution_id}").json()

    assert final.state.is_completed(), final.state.message
    assert detail["parameters"]["features"] == ["mean_radius", "mean_texture", "mean_area"]
    assert detail["parameters"]["target"] == "target"
    assert detail["parameters"]["model"] == "xgboost"  # FEM's name for it
