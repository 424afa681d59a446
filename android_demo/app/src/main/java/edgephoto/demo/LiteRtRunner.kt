package edgephoto.demo

import android.os.Build
import edgephoto.core.EngineTensor
import edgephoto.core.InvalidOptionException
import edgephoto.core.ModelRunner
import edgephoto.core.RunnerInfo
import edgephoto.core.Tensor
import java.nio.ByteBuffer
import java.nio.ByteOrder
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate

/** The accelerators the demo asks LiteRT for; AUTO = GPU if supported, else NNAPI, else CPU. */
enum class Accelerator(val label: String) { AUTO("auto"), GPU("gpu"), NNAPI("nnapi"), CPU("cpu") }

/**
 * A LiteRT Interpreter behind the core's ModelRunner. The requested delegate is tried first; when
 * it is missing on the phone or refuses the graph, the model runs on the CPU (XNNPACK) and
 * `info.fallback` says why, as the Python runtime's devices module reports a fallback.
 */
class LiteRtRunner(model: ByteBuffer, requested: Accelerator, threads: Int = 4) : ModelRunner {
    private var delegate: Delegate? = null
    private val interpreter: Interpreter
    override val info: RunnerInfo

    init {
        val tried = if (requested == Accelerator.AUTO) autoOrder() else listOf(requested)
        var failure: String? = null
        var made: Pair<Interpreter, Accelerator>? = null
        for (choice in tried) {
            try {
                made = Pair(open(model, choice, threads), choice)
                break
            } catch (exc: Exception) { // IllegalArgumentException, UnsupportedOperationException, native errors
                closeDelegate()
                failure = (failure?.let { "$it; " } ?: "") + "${choice.label}: ${exc.message ?: exc.javaClass.simpleName}"
            }
        }
        val (interp, used) = made ?: Pair(open(model, Accelerator.CPU, threads), Accelerator.CPU)
        interpreter = interp
        info = RunnerInfo(
            backend = "litert",
            requestedDevice = requested.label,
            device = used.label,
            accelerator = when (used) {
                Accelerator.GPU -> "gpu delegate"
                Accelerator.NNAPI -> "nnapi delegate"
                else -> "xnnpack"
            },
            threads = if (used == Accelerator.CPU) threads else null,
            engineVersion = "litert (Android ${Build.VERSION.RELEASE}, API ${Build.VERSION.SDK_INT})",
            fallback = failure, // null when the first choice worked
        )
    }

    private fun autoOrder(): List<Accelerator> {
        val order = mutableListOf<Accelerator>()
        val compat = CompatibilityList()
        if (compat.isDelegateSupportedOnThisDevice) order.add(Accelerator.GPU)
        compat.close()
        order.add(Accelerator.NNAPI)
        order.add(Accelerator.CPU)
        return order
    }

    private fun open(model: ByteBuffer, choice: Accelerator, threads: Int): Interpreter {
        val options = Interpreter.Options()
        when (choice) {
            Accelerator.GPU -> {
                val compat = CompatibilityList()
                if (!compat.isDelegateSupportedOnThisDevice) {
                    compat.close()
                    throw UnsupportedOperationException("no supported GPU on this device")
                }
                val gpu = GpuDelegate(compat.bestOptionsForThisDevice)
                compat.close()
                delegate = gpu
                options.addDelegate(gpu)
            }
            Accelerator.NNAPI -> {
                val nnapi = NnApiDelegate()
                delegate = nnapi
                options.addDelegate(nnapi)
            }
            else -> {
                options.setNumThreads(threads)
                options.setUseXNNPACK(true)
            }
        }
        model.rewind()
        return Interpreter(model, options)
    }

    private fun closeDelegate() {
        (delegate as? AutoCloseable)?.close()
        delegate = null
    }

    private fun dtypeName(type: DataType): String = when (type) {
        DataType.FLOAT32 -> "float32"
        DataType.UINT8 -> "uint8"
        DataType.INT8 -> "int8"
        DataType.INT32 -> "int32"
        DataType.INT64 -> "int64"
        else -> type.name.lowercase()
    }

    override fun inputs(): List<EngineTensor> = (0 until interpreter.inputTensorCount).map {
        val t = interpreter.getInputTensor(it)
        // shapeSignature keeps -1 for open dims; shape() is the currently allocated size
        EngineTensor(t.name(), t.shapeSignature().map { d -> if (d < 0) null else d }, dtypeName(t.dataType()))
    }

    override fun outputs(): List<EngineTensor> = (0 until interpreter.outputTensorCount).map {
        val t = interpreter.getOutputTensor(it)
        EngineTensor(t.name(), t.shapeSignature().map { d -> if (d < 0) null else d }, dtypeName(t.dataType()))
    }

    override fun run(feeds: Map<String, Tensor>): Map<String, Tensor> {
        val buffers = arrayOfNulls<Any>(interpreter.inputTensorCount)
        for (i in 0 until interpreter.inputTensorCount) {
            val spec = interpreter.getInputTensor(i)
            val feed = feeds[spec.name()] ?: feeds.values.singleOrNull()
                ?: throw InvalidOptionException("no feed for input '${spec.name()}' (got ${feeds.keys})")
            if (!spec.shape().contentEquals(feed.shape)) interpreter.resizeInput(i, feed.shape)
            buffers[i] = pack(feed, spec.dataType())
        }
        interpreter.allocateTensors()
        val outputs = HashMap<Int, Any>()
        val raw = (0 until interpreter.outputTensorCount).associateWith { k ->
            val t = interpreter.getOutputTensor(k)
            ByteBuffer.allocateDirect(t.numBytes()).order(ByteOrder.nativeOrder()).also { outputs[k] = it }
        }
        interpreter.runForMultipleInputsOutputs(buffers, outputs)
        return raw.entries.associate { (k, buffer) ->
            val t = interpreter.getOutputTensor(k)
            t.name() to unpack(buffer, t.shape(), t.dataType())
        }
    }

    private fun pack(tensor: Tensor, type: DataType): ByteBuffer {
        val bytesPer = if (type == DataType.FLOAT32 || type == DataType.INT32) 4 else 1
        val buffer = ByteBuffer.allocateDirect(tensor.data.size * bytesPer).order(ByteOrder.nativeOrder())
        for (v in tensor.data) when (type) {
            DataType.FLOAT32 -> buffer.putFloat(v)
            DataType.INT32 -> buffer.putInt(v.toInt())
            DataType.UINT8, DataType.INT8 -> buffer.put(v.toInt().toByte())
            else -> throw InvalidOptionException("input dtype $type is not supported by the demo")
        }
        buffer.rewind()
        return buffer
    }

    private fun unpack(buffer: ByteBuffer, shape: IntArray, type: DataType): Tensor {
        buffer.rewind()
        val n = shape.fold(1) { a, b -> a * b }
        val data = FloatArray(n) {
            when (type) {
                DataType.FLOAT32 -> buffer.getFloat()
                DataType.INT32 -> buffer.getInt().toFloat()
                DataType.UINT8 -> (buffer.get().toInt() and 0xFF).toFloat()
                DataType.INT8 -> buffer.get().toFloat()
                else -> throw InvalidOptionException("output dtype $type is not supported by the demo")
            }
        }
        return Tensor(shape, dtypeName(type), data)
    }

    override fun close() {
        interpreter.close()
        closeDelegate()
    }
}
