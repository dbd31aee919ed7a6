"""The separation job life cycle, split by responsibility:

- `state`    every change of a job's state: a conditional UPDATE, then an event
- `running`  running a claimed job: engine, progress, files
- `dispatch` getting jobs to workers: enqueue, retry, cancel, recover, upload-and-queue
"""
