"""Run time: the doit task factory, the story action and its ladder, workspaces, gates, stamps, checkpoints and integration.

The agent backends live in `agents`. Nothing here imports the compiler: the run reads the compiled plan
(`storyc.plan`) and nothing else of compile time.
"""
