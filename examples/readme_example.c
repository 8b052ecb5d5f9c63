/* The 20-line example of README.md, compiled and run by the test suite so the
 * README never shows code that does not work: producer/consumer with a bounded
 * channel, the seeds' queue.Queue(maxsize=200) (seed 003, section 3). */
#include <weft.h>
#include <pthread.h>
#include <stdio.h>

static void *consumer(void *arg)
{
    weft_chan *ch = arg;
    long item, sum = 0;
    while (weft_chan_recv(ch, &item, WEFT_NEVER) == 0) /* -EPIPE once closed and drained */
        sum += item;
    printf("consumer: sum %ld\n", sum);
    return NULL;
}

int main(void)
{
    weft_chan *ch;
    weft_chan_opts opts = {.elem_size = sizeof(long), .capacity = 200};
    if (weft_chan_create(&ch, &opts) != 0) return 1;
    pthread_t t;
    pthread_create(&t, NULL, consumer, ch);
    for (long i = 0; i < 2000; i++)
        weft_chan_send(ch, &i, weft_deadline_in(1 * WEFT_SEC)); /* blocks while full */
    weft_chan_close(ch);
    pthread_join(t, NULL);
    weft_chan_destroy(ch);
}
