"""Text classification with torchtext's tutorial model: nn.EmbeddingBag over offsets built with
cumsum in a collate_fn, random_split into train/valid, SGD with StepLR and gradient clipping."""

import random

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, random_split

VOCAB = [f"w{i}" for i in range(200)]
TOPIC_WORDS = [VOCAB[i * 40:(i + 1) * 40] for i in range(4)]


def make_corpus(rnd, n):
    corpus = []
    for _ in range(n):
        label = rnd.randrange(4)
        words = [rnd.choice(TOPIC_WORDS[label]) if rnd.random() < 0.6 else rnd.choice(VOCAB)
                 for _ in range(rnd.randint(5, 20))]
        corpus.append((label + 1, " ".join(words)))
    return corpus


vocab = {word: index for index, word in enumerate(VOCAB)}


def text_pipeline(x):
    return [vocab[token] for token in x.split()]


def label_pipeline(x):
    return int(x) - 1


def collate_batch(batch):
    label_list, text_list, offsets = [], [], [0]
    for _label, _text in batch:
        label_list.append(label_pipeline(_label))
        processed_text = torch.tensor(text_pipeline(_text), dtype=torch.int64)
        text_list.append(processed_text)
        offsets.append(processed_text.size(0))
    label_list = torch.tensor(label_list, dtype=torch.int64)
    offsets = torch.tensor(offsets[:-1]).cumsum(dim=0)
    text_list = torch.cat(text_list)
    return label_list, text_list, offsets


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size, embed_dim, num_class):
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim, sparse=False)
        self.fc = nn.Linear(embed_dim, num_class)
        self.init_weights()

    def init_weights(self):
        initrange = 0.5
        self.embedding.weight.data.uniform_(-initrange, initrange)
        self.fc.weight.data.uniform_(-initrange, initrange)
        self.fc.bias.data.zero_()

    def forward(self, text, offsets):
        embedded = self.embedding(text, offsets)
        return self.fc(embedded)


def main():
    torch.manual_seed(0)
    rnd = random.Random(0)
    train_iter, test_iter = make_corpus(rnd, 800), make_corpus(rnd, 200)
    model = TextClassificationModel(len(vocab), 32, 4)
    rng = np.random.default_rng(9)
    model.load_state_dict({k: torch.from_numpy(rng.uniform(-0.5, 0.5, tuple(v.shape)).astype(np.float32))
                           for k, v in model.state_dict().items()})

    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=5)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.1)
    num_train = int(len(train_iter) * 0.95)
    split_train_, split_valid_ = random_split(train_iter, [num_train, len(train_iter) - num_train])
    train_dataloader = DataLoader(split_train_, batch_size=64, shuffle=True, collate_fn=collate_batch)
    valid_dataloader = DataLoader(split_valid_, batch_size=64, shuffle=True, collate_fn=collate_batch)
    test_dataloader = DataLoader(test_iter, batch_size=64, shuffle=True, collate_fn=collate_batch)

    def train(dataloader):
        model.train()
        for label, text, offsets in dataloader:
            optimizer.zero_grad()
            predicted_label = model(text, offsets)
            loss = criterion(predicted_label, label)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            optimizer.step()

    def evaluate(dataloader):
        model.eval()
        total_acc, total_count = 0, 0
        with torch.no_grad():
            for label, text, offsets in dataloader:
                predicted_label = model(text, offsets)
                total_acc += (predicted_label.argmax(1) == label).sum().item()
                total_count += label.size(0)
        return total_acc / total_count

    total_accu = None
    accuracies = []
    for epoch in range(1, 6):
        train(train_dataloader)
        accu_val = evaluate(valid_dataloader)
        if total_accu is not None and total_accu > accu_val:
            scheduler.step()
        else:
            total_accu = accu_val
        accuracies.append(accu_val)
        print(f"| end of epoch {epoch:3d} | valid accuracy {accu_val:8.3f} ")
    return {"split": [len(split_train_), len(split_valid_)], "test_accuracy": evaluate(test_dataloader),
            "final_valid_accuracy": accuracies[-1]}


if __name__ == "__main__":
    print(main())
