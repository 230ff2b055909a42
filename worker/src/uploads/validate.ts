// An uploaded file is only kept if the Worker can use it: an MP4 whose H.264
// track indexes (the same indexMp4 the classify path and the job planner use,
// reading only the file's index). Anything the indexer refuses becomes a 422
// that keeps the indexer's code and message.
import { ApiError, userError } from "../errors.ts";
import { indexMp4 } from "../mp4/index-mp4.ts";
import type { ByteSource } from "../mp4/source.ts";
import type { StoredVideo } from "./schemas.ts";

export async function describeVideo(source: ByteSource): Promise<StoredVideo["video"]> {
  try {
    const { video, durationSeconds } = await indexMp4(source);
    return { codec: video.codec, width: video.width, height: video.height, durationSeconds };
  } catch (error) {
    if (error instanceof ApiError && error.status < 500) {
      throw userError(422, error.code, `${error.message}; the upload was not kept`, error.accepted ?? "an MP4 with H.264 video");
    }
    throw error;
  }
}
