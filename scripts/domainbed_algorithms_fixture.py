#!/usr/bin/env python3
"""Writes tests/fixtures/domainbed_algorithms.json: DomainBed's CORAL and Mixup
updates on one fixed tiny batch, for tests/train_algorithms.rs.

The loss code below follows domainbed/algorithms.py (facebookresearch/DomainBed,
classes ERM, AbstractMMD with kernel_type "mean_cov" = CORAL, Mixup) and
domainbed/lib/misc.py (random_pairs_of_minibatches), with DomainBed's default
hyper-parameters (mmd_gamma 1.0, mixup_alpha 0.2). The network is a linear
featurizer on the flattened images and a linear classifier, so the Rust test
can rebuild it from the weights written here. Mixup's random draws (the
permutation of the domains and one lambda per pair) are fixed inputs: the two
implementations use different generators, the arithmetic is what is compared.

Run: python3 scripts/domainbed_algorithms_fixture.py  (needs torch; CPU is enough)
"""

import json
import pathlib

import torch
import torch.nn.functional as F

DOMAINS, PER_DOMAIN, CLASSES = 3, 4, 3
IMAGE = (3, 2, 2)
FEATURES = 5
MMD_GAMMA = 1.0
ORDER = [2, 0, 1]
LAMBDAS = [0.3, 0.8, 0.05]


def coral_distance(x, y):
    # AbstractMMD.mmd with kernel_type "mean_cov".
    mean_x = x.mean(0, keepdim=True)
    mean_y = y.mean(0, keepdim=True)
    cent_x = x - mean_x
    cent_y = y - mean_y
    cova_x = (cent_x.t() @ cent_x) / (len(x) - 1)
    cova_y = (cent_y.t() @ cent_y) / (len(y) - 1)
    mean_diff = (mean_x - mean_y).pow(2).mean()
    cova_diff = (cova_x - cova_y).pow(2).mean()
    return mean_diff + cova_diff


def coral_loss(featurizer, classifier, minibatches):
    # AbstractMMD.update.
    objective = 0
    penalty = 0
    nmb = len(minibatches)
    features = [featurizer(xi) for xi, _ in minibatches]
    classifs = [classifier(fi) for fi in features]
    targets = [yi for _, yi in minibatches]
    for i in range(nmb):
        objective += F.cross_entropy(classifs[i], targets[i])
        for j in range(i + 1, nmb):
            penalty += coral_distance(features[i], features[j])
    objective /= nmb
    if nmb > 1:
        penalty /= nmb * (nmb - 1) / 2
    return objective, penalty, objective + MMD_GAMMA * penalty


def random_pairs_of_minibatches(minibatches, perm):
    # misc.random_pairs_of_minibatches with torch.randperm's draw fixed to `perm`.
    pairs = []
    for i in range(len(minibatches)):
        j = i + 1 if i < (len(minibatches) - 1) else 0
        xi, yi = minibatches[perm[i]][0], minibatches[perm[i]][1]
        xj, yj = minibatches[perm[j]][0], minibatches[perm[j]][1]
        min_n = min(len(xi), len(xj))
        pairs.append(((xi[:min_n], yi[:min_n]), (xj[:min_n], yj[:min_n])))
    return pairs


def mixup_loss(predict, minibatches):
    # Mixup.update with np.random.beta's draws fixed to LAMBDAS.
    objective = 0
    pairs = random_pairs_of_minibatches(minibatches, ORDER)
    for ((xi, yi), (xj, yj)), lam in zip(pairs, LAMBDAS):
        x = lam * xi + (1 - lam) * xj
        predictions = predict(x)
        objective += lam * F.cross_entropy(predictions, yi)
        objective += (1 - lam) * F.cross_entropy(predictions, yj)
    objective /= len(minibatches)
    return objective


def grads(loss, modules):
    params = [p for m in modules for p in (m.weight, m.bias)]
    return [g.flatten().tolist() for g in torch.autograd.grad(loss, params)]


def main():
    torch.manual_seed(20230717)
    images = [torch.randn(PER_DOMAIN, *IMAGE) for _ in range(DOMAINS)]
    labels = [torch.randint(0, CLASSES, (PER_DOMAIN,)) for _ in range(DOMAINS)]
    featurizer_linear = torch.nn.Linear(int(torch.tensor(IMAGE).prod()), FEATURES)
    classifier = torch.nn.Linear(FEATURES, CLASSES)

    def featurizer(x):
        return featurizer_linear(x.flatten(1))

    def predict(x):
        return classifier(featurizer(x))

    minibatches = list(zip(images, labels))
    objective, penalty, loss = coral_loss(featurizer, classifier, minibatches)
    coral_grads = grads(loss, [featurizer_linear, classifier])
    mixup = mixup_loss(predict, minibatches)
    mixup_grads = grads(mixup, [featurizer_linear, classifier])

    fixture = {
        "source": "scripts/domainbed_algorithms_fixture.py (DomainBed algorithms.py: AbstractMMD mean_cov, Mixup)",
        "torch": torch.__version__,
        "domains": DOMAINS,
        "per_domain": PER_DOMAIN,
        "classes": CLASSES,
        "image_shape": list(IMAGE),
        "features": FEATURES,
        "mmd_gamma": MMD_GAMMA,
        "images": [x.flatten().tolist() for x in images],
        "labels": [y.tolist() for y in labels],
        # torch layout: weight [out, in].
        "featurizer_weight": featurizer_linear.weight.detach().flatten().tolist(),
        "featurizer_bias": featurizer_linear.bias.detach().tolist(),
        "classifier_weight": classifier.weight.detach().flatten().tolist(),
        "classifier_bias": classifier.bias.detach().tolist(),
        "coral": {
            "objective": objective.item(),
            "penalty": penalty.item(),
            "loss": loss.item(),
            # d loss / d (featurizer weight, featurizer bias, classifier weight, classifier bias).
            "grads": coral_grads,
        },
        "mixup": {
            "order": ORDER,
            "lambdas": LAMBDAS,
            "loss": mixup.item(),
            "grads": mixup_grads,
        },
    }
    out = pathlib.Path(__file__).resolve().parent.parent / "tests/fixtures/domainbed_algorithms.json"
    out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
