"""Deep experience sharing across lifelong agents on Atari (paper 000, §4).

* `envs`     the one factory that builds a game's environment; the game draw; random scores;
* `ram`      the RAM/255 feature extractor shared by SimNet and the lifelong DQN;
* `simnet`   the task-similarity network (SimNet), parameter distances and the matcher;
* `ewc`      `EWCDQN`, SB3's DQN with an elastic-weight-consolidation penalty;
* `buffers`  replay buffers exported to and imported from plain arrays;
* `hub`      the hub where agents publish and query per-task SimNets, replay buffers and weights;
* `agent`    one lifelong agent (borrow when a peer learned a matching game, else learn);
* `system`   N agents in synchronous rounds, each learning a permutation of the M games;
* `metrics`  normalized agent reward and frames to reach a fraction of the isolated reward.

Importing this package imports neither torch nor ale-py; `ewc` and `ram`
import torch and SB3, and ale-py is loaded only when an environment is built.
"""
